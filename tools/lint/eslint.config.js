// ESLint for Mailgate: typescript-eslint's recommended type-checked rules over src/, test/, bench/ and
// migrations/. Run from the repository root with `npm run lint` (tools/lint has its own install: see its
// package.json for why).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');

export default tseslint.config(
  { basePath: root, ignores: ['dist/**', 'node_modules/**', 'tools/**', '.data/**', 'bin/**'] },
  {
    basePath: root,
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: root } },
    rules: {
      // node:test's describe() and it() return promises that the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] }] },
      ],
      // graphile-worker types task payloads by declaration merging into `declare global { namespace GraphileWorker }`, as its docs prescribe.
      '@typescript-eslint/no-namespace': ['error', { allowDeclarations: true }],
    },
  },
  {
    // Tests read answers off the wire (JSON, XML-RPC structs) and assert on their shape: `any` is their input.
    basePath: root,
    files: ['test/**/*.ts'],
    rules: {
      // Their helpers and callbacks type those untyped answers as `any`, for the same reason as the rules below.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
