// Injected by esbuild into the guest bundle: free references to TextEncoder/TextDecoder in
// third-party modules resolve to our implementation (the isolate has no such globals of its own).
export { TextEncoder, TextDecoder } from './encoding.ts';
