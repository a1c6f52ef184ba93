// whatwg-url ships no type declarations; the guest re-exports its classes as the global URL API.
declare module 'whatwg-url' {
  export const URL: typeof globalThis.URL;
  export const URLSearchParams: typeof globalThis.URLSearchParams;
}
