#!/usr/bin/env node
// The installed `mailgate` command: runs the TypeScript entry through tsx (a runtime dependency).
import { register } from 'tsx/esm/api';
register();
await import('../src/main.ts');
