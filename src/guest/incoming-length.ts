// How many bytes a body from the network will have, when its headers say so up front. The
// buffering limit uses it to refuse an oversized body before reading any of it, as workerd does
// with the length its stream reports.

/**
 * The Content-Length of a flat [name, value, …] header list, or null when it is absent, not a
 * plain number, or given twice with different values. `decoded`: the runtime removed a
 * Content-Encoding (as it does for a subrequest's response), so the header counts encoded bytes
 * and says nothing about the body the worker reads.
 */
export function declaredBodyLength(headersList: readonly string[], decoded: boolean): number | null {
  let length: number | null = null;
  for (let i = 0; i + 1 < headersList.length; i += 2) {
    const name = headersList[i].toLowerCase();
    if (name === 'content-encoding' && decoded) {
      const coding = headersList[i + 1].trim().toLowerCase();
      if (coding !== '' && coding !== 'identity') return null;
    } else if (name === 'content-length') {
      const text = headersList[i + 1].trim();
      if (!/^[0-9]+$/.test(text)) return null;
      const value = Number(text);
      if (length !== null && length !== value) return null;
      length = value;
    }
  }
  return length;
}
