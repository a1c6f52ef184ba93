// Placeholder: the metrics feature is being built (see the open issue); it registers nothing yet.
import type { PlatformContext, PlatformFeature } from './platform-context.ts';

export async function attachMetrics(_ctx: PlatformContext): Promise<PlatformFeature> {
  return { async close() {} };
}
