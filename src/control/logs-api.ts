// Placeholder: the logs feature is being built (see the open issue); it registers nothing yet.
import type { PlatformContext, PlatformFeature } from './platform-context.ts';

export async function attachLogs(_ctx: PlatformContext): Promise<PlatformFeature> {
  return { async close() {} };
}
