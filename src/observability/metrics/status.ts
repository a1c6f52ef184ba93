// How an invocation's outcome is grouped for charts and counters. Cloudflare's dashboard shows
// "Errors by invocation status" and "Client disconnected by type"; its analytics call the groups
// success, clientDisconnected, scriptThrewException, exceededResources and internalError. Which
// outcome lands in which group is written down here, once, and documented in docs/metrics.md.
import type { Outcome } from '../../protocol/trace.ts';

/** Every outcome of the trace event (spec §4), in the order Cloudflare lists them. */
export const OUTCOMES: readonly Outcome[] = [
  'unknown', 'ok', 'exception', 'exceededCpu', 'killSwitch', 'daemonDown', 'scriptNotFound', 'canceled',
  'exceededMemory', 'loadShed', 'responseStreamDisconnected', 'internalError', 'exceededWallTime', 'aborted',
];

export type InvocationStatus = 'success' | 'clientDisconnected' | 'scriptThrewException' | 'exceededResources' | 'internalError';

export const STATUSES: readonly InvocationStatus[] = ['success', 'clientDisconnected', 'scriptThrewException', 'exceededResources', 'internalError'];

/** The outcomes the "Client disconnected by type" chart splits; every other outcome is not a disconnect. */
export type DisconnectType = 'responseStreamDisconnected' | 'canceled';

export const DISCONNECT_TYPES: readonly DisconnectType[] = ['responseStreamDisconnected', 'canceled'];

/**
 * The status group of an outcome. Anything that is neither a success, a client going away, the
 * script's own exception nor a resource limit is the platform's fault: internalError (that
 * includes outcomes this version does not know, so a new outcome is never silently "success").
 */
export function invocationStatus(outcome: string): InvocationStatus {
  switch (outcome) {
    case 'ok':
      return 'success';
    case 'canceled':
    case 'responseStreamDisconnected':
      return 'clientDisconnected';
    case 'exception':
      return 'scriptThrewException';
    case 'exceededCpu':
    case 'exceededMemory':
    case 'exceededWallTime':
      return 'exceededResources';
    default:
      return 'internalError';
  }
}

export function disconnectType(outcome: string): DisconnectType | null {
  return outcome === 'canceled' || outcome === 'responseStreamDisconnected' ? outcome : null;
}
