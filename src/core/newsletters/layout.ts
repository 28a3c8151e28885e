/**
 * Zip layouts (Emailicious' `layout.zip_file`): a zip whose page is `index.html` (the seed) or `email.html`
 * (what Emailicious' PHP client uploads), at the archive's root, with optional images under `images/`
 * (`.jpg`, `.jpeg`, `.png`, `.gif`) that the page references relatively.
 *
 * Read in memory with yauzl, never extracted to disk. Refused, each with a message naming the problem: not a
 * zip; more than LAYOUT_MAX_ENTRIES entries (counted from the central directory, before anything is read);
 * an entry outside the root (`../`, an absolute or drive path, a backslash); more than LAYOUT_MAX_BYTES once
 * unpacked — the sizes the archive declares are summed before inflating, and an entry that inflates to more
 * than it declared is stopped there (a zip bomb lying about its sizes); no page. Directories, macOS
 * metadata (`__MACOSX/`, `._*`) and files other than the page and the images are ignored.
 */
import type { Entry, ZipFile } from 'yauzl';
import { invalid, isDomainError } from '../errors.js';

export const LAYOUT_MAX_ENTRIES = 200;
export const LAYOUT_MAX_BYTES = 20 * 1024 * 1024;
const PAGES = ['index.html', 'email.html'];
const IMAGE_TYPES: Record<string, string> = { jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif' };

export interface LayoutImage {
  /** As in the archive, e.g. `images/logo.png`. */
  path: string;
  contentType: string;
  data: Buffer;
}

export interface Layout {
  page: string;
  /** The page as imported (UTF-8; a BOM dropped). */
  html: string;
  images: LayoutImage[];
}

function entries(zip: ZipFile): AsyncIterable<Entry> {
  return {
    [Symbol.asyncIterator]() {
      let done = false;
      return {
        next: () =>
          new Promise<IteratorResult<Entry>>((resolve, reject) => {
            if (done) return resolve({ done: true, value: undefined });
            const cleanup = () => {
              zip.off('entry', onEntry);
              zip.off('end', onEnd);
              zip.off('error', onError);
            };
            const onEntry = (e: Entry) => (cleanup(), resolve({ done: false, value: e }));
            const onEnd = () => ((done = true), cleanup(), resolve({ done: true, value: undefined }));
            const onError = (err: Error) => (cleanup(), reject(err));
            zip.on('entry', onEntry).on('end', onEnd).on('error', onError);
            zip.readEntry();
          }),
      };
    },
  };
}

async function contents(zip: ZipFile, entry: Entry, budget: { left: number }): Promise<Buffer> {
  const stream = await zip.openReadStreamPromise(entry);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    budget.left -= (chunk as Buffer).length;
    if (budget.left < 0) {
      stream.destroy();
      throw tooBig();
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

const FIELD = 'layout.zip_file';
const tooBig = () => invalid(`the zip unpacks to more than ${LAYOUT_MAX_BYTES / 1024 / 1024} MiB`, FIELD);

/** The page and images of a zip layout; INVALID_ARGUMENT (field `layout.zip_file`) naming what is wrong. */
export async function readLayoutZip(archive: Buffer): Promise<Layout> {
  // yauzl loads on the first layout (one-shot commands build the core without it).
  const { fromBufferPromise } = await import('yauzl');
  let zip: ZipFile;
  try {
    zip = await fromBufferPromise(archive, { lazyEntries: true, validateEntrySizes: true, decodeStrings: true, autoClose: false });
  } catch (e) {
    throw invalid(`not a zip archive (${(e as Error).message})`, FIELD);
  }
  try {
    if (zip.entryCount > LAYOUT_MAX_ENTRIES) throw invalid(`the zip has ${zip.entryCount} entries, more than ${LAYOUT_MAX_ENTRIES}`, FIELD);
    const wanted: Entry[] = [];
    let declared = 0;
    try {
      for await (const entry of entries(zip)) {
        declared += entry.uncompressedSize;
        if (declared > LAYOUT_MAX_BYTES) throw tooBig();
        const name = entry.fileName;
        if (name.endsWith('/') || name.startsWith('__MACOSX/') || /(^|\/)\._/.test(name)) continue;
        if (PAGES.includes(name) || /^images\/[^/]+\.(jpe?g|png|gif)$/i.test(name)) wanted.push(entry);
      }
    } catch (e) {
      // yauzl refuses names outside the root as it reads the central directory.
      if (e instanceof Error && /absolute path|invalid relative path|invalid characters in fileName/.test(e.message))
        throw invalid(`an entry is outside the archive's root (${e.message})`, FIELD);
      if (!isDomainError(e)) throw invalid(`not a readable zip archive (${(e as Error).message})`, FIELD);
      throw e;
    }
    const pageEntry = PAGES.map((p) => wanted.find((e) => e.fileName === p)).find(Boolean);
    if (!pageEntry) throw invalid(`the zip has no page: ${PAGES.join(' or ')} at its root is required`, FIELD);
    const budget = { left: LAYOUT_MAX_BYTES };
    const read = async (e: Entry) => {
      try {
        return await contents(zip, e, budget);
      } catch (err) {
        if (isDomainError(err)) throw err;
        const why = (err as Error).message;
        if (/too many bytes/.test(why)) throw invalid(`${e.fileName} unpacks to more bytes than the zip declares (damaged, or a zip bomb)`, FIELD);
        throw invalid(`${e.fileName}: ${why}`, FIELD);
      }
    };
    const html = (await read(pageEntry)).toString('utf8').replace(/^\uFEFF/, '');
    const images: LayoutImage[] = [];
    for (const e of wanted) {
      if (e === pageEntry || PAGES.includes(e.fileName)) continue;
      const ext = e.fileName.slice(e.fileName.lastIndexOf('.') + 1).toLowerCase();
      images.push({ path: e.fileName, contentType: IMAGE_TYPES[ext]!, data: await read(e) });
    }
    return { page: pageEntry.fileName, html, images };
  } finally {
    zip.close();
  }
}
