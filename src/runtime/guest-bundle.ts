// Builds the guest bundle (src/guest → one classic script) once per process and keeps its V8 code
// cache, so that every new isolate skips parsing and compiling it.
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import ivm from 'isolated-vm';

const guestDir = fileURLToPath(new URL('../guest/', import.meta.url));

export interface GuestBundle {
  code: string;
  cachedData: ivm.ExternalCopy<ArrayBuffer> | undefined;
}

let bundle: Promise<GuestBundle> | undefined;

async function build(): Promise<GuestBundle> {
  const result = await esbuild.build({
    entryPoints: [`${guestDir}index.ts`],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    target: 'es2022',
    minifySyntax: true,
    minifyWhitespace: true,
    // Third-party code in the bundle (whatwg-url) refers to TextEncoder/TextDecoder as globals
    // while the bundle itself is what defines them: point those references at our module.
    inject: [`${guestDir}inject-encoding.ts`],
    legalComments: 'none',
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].text;
  // Produce the code cache in a throwaway isolate; later isolates consume it.
  const isolate = new ivm.Isolate({ memoryLimit: 64 });
  try {
    const script = await isolate.compileScript(code, { filename: 'flarelet:guest', produceCachedData: true });
    script.release();
    return { code, cachedData: (script as ivm.Script & ivm.CachedDataResult).cachedData };
  } finally {
    isolate.dispose();
  }
}

export function guestBundle(): Promise<GuestBundle> {
  bundle ??= build();
  return bundle;
}
