/* differential
{
  "requests": [
    { "path": "/", "expect": { "status": 200 } }
  ]
}
*/
// structuredClone: Map, Set, Date, RegExp, typed arrays, cycles, shared references, and DataCloneError for functions and symbols.
export default {
  fetch() {
    const shared = { s: 1 };
    const source = {
      map: new Map([
        ['k', { v: 1 }],
        [2, 'two'],
      ]),
      set: new Set([1, 'a', shared]),
      date: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)),
      regexp: /ab+c/gi,
      bytes: new Uint8Array([1, 2, 3]),
      nested: { deep: [1, [2, [3]]] },
      a: shared,
      b: shared,
      big: 10n,
      undef: undefined,
    };
    source.self = source;
    const copy = structuredClone(source);
    const errors = [];
    for (const bad of [() => 1, Symbol('s'), { f() {} }]) {
      try {
        structuredClone(bad);
        errors.push('cloned');
      } catch (err) {
        errors.push(err.name);
      }
    }
    return Response.json({
      distinct: copy !== source && copy.map !== source.map,
      map: [...copy.map],
      mapIsMap: copy.map instanceof Map,
      set: [...copy.set].map((x) => (typeof x === 'object' ? 'object' : x)),
      date: copy.date.toISOString(),
      dateIsDate: copy.date instanceof Date,
      regexp: [copy.regexp.source, copy.regexp.flags],
      bytes: [...copy.bytes],
      bytesType: Object.prototype.toString.call(copy.bytes),
      nested: copy.nested,
      cycle: copy.self === copy,
      sharedKept: copy.a === copy.b && copy.a !== shared,
      big: String(copy.big),
      undefKept: 'undef' in copy,
      errors,
    });
  },
};
