// Hang detection: an invocation whose handler has not produced a response and that has nothing
// pending that could ever wake it (no timer, no host operation such as a fetch or a body read)
// will never respond. Cloudflare cancels such a request at once instead of letting it hang.
//
// The guest cannot see when the microtasks an event caused have all run, so the check has two
// steps: a few microtask rounds first (most async handlers respond within them), then a request
// to the host, which answers with HostEvent.HangCheck as a task of its own, i.e. after every
// queued microtask. If the invocation is still idle and unanswered then, it has hung.
import { GuestMessage, HostEvent } from '../protocol/bridge.ts';
import { onEvent, onInvocationEvent, pendingOpsOf, sendToHost, setCurrentInvocationId } from './host.ts';
import { invocations } from './invocation.ts';
import type { Invocation } from './invocation.ts';
import { pendingTimersOf } from './timers.ts';

export const HANG_MESSAGE =
  "The Workers runtime canceled this request because it detected that your Worker's code had hung and would never generate a response. Refer to: https://developers.cloudflare.com/workers/observability/errors/";

const MICROTASK_ROUNDS = 8;

function hasPendingWork(inv: Invocation): boolean {
  return pendingOpsOf(inv.id) > 0 || pendingTimersOf(inv.id) > 0;
}

/** Starts a hang check for an invocation that has not responded yet. */
export function watchForHang(inv: Invocation): void {
  if (inv.watchingForHang || inv.responded) return;
  inv.watchingForHang = true;
  let rounds = 0;
  const check = (): void => {
    if (inv.responded || inv.finished || hasPendingWork(inv)) {
      // Pending work reports back through an event, which starts a new check.
      inv.watchingForHang = false;
      return;
    }
    if (++rounds < MICROTASK_ROUNDS) {
      Promise.resolve().then(check);
      return;
    }
    inv.watchingForHang = false;
    sendToHost(GuestMessage.HangCheckRequest, inv.id);
  };
  Promise.resolve().then(check);
}

onInvocationEvent((invId) => {
  const inv = invocations.get(invId);
  if (inv && !inv.responded) watchForHang(inv);
});

onEvent(HostEvent.HangCheck, (invId) => {
  const inv = invocations.get(invId as number);
  if (!inv || inv.responded || hasPendingWork(inv)) return;
  setCurrentInvocationId(inv.id);
  inv.fail(new Error(HANG_MESSAGE));
});
