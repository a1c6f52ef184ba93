// The isolate's `console`. Only debug/info/log/warn/error are captured into the trace (as on
// Cloudflare); each call goes to the host at once, so the lines survive even if the isolate dies.
import { GuestMessage } from '../protocol/bridge.ts';
import { serializeConsoleArgs } from './console-format.ts';
import { getCurrentInvocationId, sendToHost } from './host.ts';

export type LogLevel = 'debug' | 'info' | 'log' | 'warn' | 'error';

/** Sends one log line for an invocation (also used by the runtime for its own warnings). */
export function emitLog(invId: number, level: LogLevel, args: unknown[]): void {
  const { message, errorInfo, size } = serializeConsoleArgs(args);
  sendToHost(GuestMessage.Log, invId, level, message, Date.now(), errorInfo, size);
}

function capture(level: LogLevel) {
  return function (...args: unknown[]): void {
    emitLog(getCurrentInvocationId(), level, args);
  };
}

const noop = (): void => {};

export function createConsole(): Record<string, unknown> {
  const console: Record<string, unknown> = {
    debug: capture('debug'),
    info: capture('info'),
    log: capture('log'),
    warn: capture('warn'),
    error: capture('error'),
  };
  // Present so that libraries calling them do not throw; not part of the trace, as on Cloudflare.
  for (const name of ['assert', 'clear', 'count', 'countReset', 'dir', 'dirxml', 'group', 'groupCollapsed', 'groupEnd', 'table', 'time', 'timeEnd', 'timeLog', 'trace', 'profile', 'profileEnd', 'timeStamp']) {
    console[name] = noop;
  }
  return console;
}
