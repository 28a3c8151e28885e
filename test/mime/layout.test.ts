/**
 * Zip layouts (Emailicious' `layout.zip_file`), read from real archives written by yazl: the seed's
 * `index.html` and the PHP client's `email.html` with their images, and every bad-zip case of rest.md: not a
 * zip, no page, an entry outside the root, 201 entries, a zip bomb (honest about its size, and one that lies).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import { ZipFile } from 'yazl';
import { LAYOUT_MAX_BYTES, readLayoutZip } from '../../src/core/newsletters/layout.js';
import { isDomainError } from '../../src/core/errors.js';

const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

function zip(files: Record<string, Buffer | string>, o: { compress?: boolean } = {}): Promise<Buffer> {
  const z = new ZipFile();
  for (const [name, data] of Object.entries(files)) {
    if (name.endsWith('/')) z.addEmptyDirectory(name);
    else z.addBuffer(Buffer.isBuffer(data) ? data : Buffer.from(data), name, { compress: o.compress ?? true });
  }
  z.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    z.outputStream
      .on('data', (c: Buffer) => chunks.push(c))
      .on('end', () => resolve(Buffer.concat(chunks)))
      .on('error', reject);
  });
}

async function refused(archive: Buffer, message: RegExp): Promise<void> {
  await assert.rejects(readLayoutZip(archive), (e: unknown) => {
    assert.ok(isDomainError(e), String(e));
    assert.equal(e.code, 'INVALID_ARGUMENT');
    assert.equal(e.field, 'layout.zip_file');
    assert.match(e.message, message);
    return true;
  });
}

describe('zip layouts', () => {
  it("reads the seed's index.html with its images; directories, macOS metadata and other files are left out", async () => {
    const archive = await zip({
      'index.html': '\uFEFF<html><body><img src="images/logo.png"> Été</body></html>',
      'images/': '',
      'images/logo.png': PNG,
      'images/photo.JPG': PNG,
      '__MACOSX/._index.html': 'junk',
      'notes.txt': 'not a part of the layout',
    });
    const l = await readLayoutZip(archive);
    assert.equal(l.page, 'index.html');
    assert.equal(l.html, '<html><body><img src="images/logo.png"> Été</body></html>');
    assert.deepEqual(
      l.images.map((i) => [i.path, i.contentType, i.data.equals(PNG)]),
      [
        ['images/logo.png', 'image/png', true],
        ['images/photo.JPG', 'image/jpeg', true],
      ],
    );
  });

  it("reads the PHP client's email.html (stored, not deflated)", async () => {
    const l = await readLayoutZip(await zip({ 'email.html': '<p>Hi</p>' }, { compress: false }));
    assert.deepEqual([l.page, l.html, l.images], ['email.html', '<p>Hi</p>', []]);
  });

  it('refuses what is not a zip, and a zip without a page at its root', async () => {
    await refused(Buffer.from('this is not a zip at all'), /not a zip archive/);
    await refused(Buffer.alloc(0), /not a zip archive/);
    await refused(await zip({ 'site/index.html': '<p>nested</p>', 'images/a.png': PNG }), /no page: index\.html or email\.html at its root/);
  });

  it('refuses an entry outside the root: ../ and an absolute path', async () => {
    // yazl will not write such names: write safe ones of the same length and patch the bytes of the archive.
    const up = await zip({ 'index.html': '<p>x</p>', 'aa/evil.png': PNG });
    await refused(
      Buffer.from(up.toString('latin1').replaceAll('aa/evil.png', '../evil.png'), 'latin1'),
      /outside the archive's root \(invalid relative path: \.\.\/evil\.png\)/,
    );
    const abs = await zip({ 'index.html': '<p>x</p>', 'xetc/passwd': 'root' });
    await refused(
      Buffer.from(abs.toString('latin1').replaceAll('xetc/passwd', '/etc/passwd'), 'latin1'),
      /outside the archive's root \(absolute path: \/etc\/passwd\)/,
    );
  });

  it('refuses 201 entries (200 pass)', async () => {
    const files = (n: number) => Object.fromEntries([['index.html', '<p>x</p>'], ...Array.from({ length: n - 1 }, (_, i) => [`images/i${i}.png`, PNG])]);
    assert.equal((await readLayoutZip(await zip(files(200)))).images.length, 199);
    await refused(await zip(files(201)), /201 entries, more than 200/);
  });

  it('refuses a zip bomb before inflating it, and one that lies about its size while inflating', async () => {
    const big = Buffer.alloc(LAYOUT_MAX_BYTES + 1);
    const honest = await zip({ 'index.html': '<p>x</p>', 'images/zero.png': big });
    assert.ok(honest.length < 100_000, `the bomb is small: ${honest.length} bytes`);
    await refused(honest, /unpacks to more than 20 MiB/);

    // The same deflated bytes declared as 1 KiB: a hand-written archive (yazl always writes true sizes).
    await refused(lyingZip('index.html', big, 1024), /^index\.html unpacks to more bytes than the zip declares \(damaged, or a zip bomb\)$/);
  });
});

/** A one-entry deflated zip whose headers declare `declared` uncompressed bytes for `data`. */
function lyingZip(name: string, data: Buffer, declared: number): Buffer {
  const body = deflateRawSync(data);
  const fileName = Buffer.from(name);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(0, 6);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(0, 14); // crc (not checked before the size)
  local.writeUInt32LE(body.length, 18);
  local.writeUInt32LE(declared, 22);
  local.writeUInt16LE(fileName.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(0, 16);
  central.writeUInt32LE(body.length, 20);
  central.writeUInt32LE(declared, 24);
  central.writeUInt16LE(fileName.length, 28);
  central.writeUInt32LE(0, 42);
  const cdOffset = local.length + fileName.length + body.length;
  const cdSize = central.length + fileName.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(cdSize, 12);
  end.writeUInt32LE(cdOffset, 16);
  return Buffer.concat([local, fileName, body, central, fileName, end]);
}
