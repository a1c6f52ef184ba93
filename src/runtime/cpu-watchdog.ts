// One interval for the whole process that looks at every isolate with invocations in flight:
// it notices isolates killed by their memory limit and invocations over their CPU budget. It
// runs only while some invocation is active, so an idle process does not wake up.
export const WATCHDOG_INTERVAL_MS = 5;

export interface Watched {
  /** Called on every tick while registered; returns false to be dropped (nothing in flight). */
  checkLimits(): boolean;
}

const watched = new Set<Watched>();
let interval: NodeJS.Timeout | undefined;

function tick(): void {
  for (const item of watched) {
    try {
      if (!item.checkLimits()) watched.delete(item);
    } catch (error) {
      watched.delete(item);
      process.emitWarning(`CPU watchdog: ${(error as Error)?.message ?? String(error)}`);
    }
  }
  if (watched.size === 0 && interval) {
    clearInterval(interval);
    interval = undefined;
  }
}

/** Starts watching (idempotent); the item is dropped again when checkLimits returns false. */
export function watch(item: Watched): void {
  watched.add(item);
  if (!interval) {
    interval = setInterval(tick, WATCHDOG_INTERVAL_MS);
    interval.unref();
  }
}
