import { createRequire } from 'node:module';

/**
 * dynalite 4 reads every Query and Scan through a stream over an abstract-level iterator and, when
 * the stream ends or is destroyed, closes the iterator with `iterator.return()` if there is one.
 * abstract-level 3 iterators have `close()` and no `return()`, so none is ever closed: each stays
 * attached to the database, and its LevelDB iterator keeps its read buffer and pins the memtable
 * and table files it started on. The embedded stack leaked about 100 of them per 800-image job,
 * some 7 MB of native read buffers plus what they pinned, none of it ever given back. Giving the
 * iterators the `return()` dynalite looks for closes them as it intends.
 */
export function closeDynaliteIterators(): object[] {
  const fromDynalite = createRequire(createRequire(import.meta.url).resolve('dynalite'));
  // The abstract-level copies behind the two stores dynalite may open (on disk and in memory).
  const patched = new Set<object>();
  for (const store of ['classic-level', 'memory-level']) {
    const { AbstractIterator } = createRequire(fromDynalite.resolve(store))('abstract-level') as {
      AbstractIterator: { prototype: object };
    };
    // The common base of entry, key and value iterators: AbstractIterator's own parent.
    const common = Object.getPrototypeOf(AbstractIterator.prototype) as {
      close?: () => Promise<void>;
      return?: () => Promise<{ done: true; value: undefined }>;
    };
    if (typeof common.close !== 'function') throw new Error('abstract-level iterators have no close()');
    if (!('return' in common)) {
      Object.defineProperty(common, 'return', {
        configurable: true,
        writable: true,
        value: async function (this: { close(): Promise<void> }) {
          await this.close();
          return { done: true, value: undefined };
        },
      });
    }
    patched.add(common);
  }
  return [...patched];
}
