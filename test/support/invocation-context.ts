// Runs guest code in Node tests as if it belonged to one invocation of an isolate.
import { setCurrentInvocationId } from '../../src/guest/host.ts';

/**
 * Runs `fn` as code of invocation `id`. In an isolate every continuation of an event runs
 * before the next event, so a promise `fn` returns keeps the id until it settles.
 */
export function as<T>(id: number, fn: () => T): T {
  setCurrentInvocationId(id);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    setCurrentInvocationId(0);
    throw error;
  }
  if (result instanceof Promise) {
    return result.finally(() => setCurrentInvocationId(0)) as T;
  }
  setCurrentInvocationId(0);
  return result;
}
