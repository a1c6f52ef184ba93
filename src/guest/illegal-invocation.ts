// The TypeError Cloudflare throws when a runtime method is called with the wrong `this`
// (e.g. `const { waitUntil } = ctx; waitUntil(p)`).
export const ILLEGAL_INVOCATION =
  'Illegal invocation: function called with incorrect `this` reference. See https://developers.cloudflare.com/workers/observability/errors/#illegal-invocation-errors for details.';

export function illegalInvocation(): TypeError {
  return new TypeError(ILLEGAL_INVOCATION);
}
