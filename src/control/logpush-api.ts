// Placeholder: the logpush feature is being built (see the open issue); it registers nothing yet.
import type { PlatformContext, PlatformFeature } from './platform-context.ts';

export async function attachLogpush(_ctx: PlatformContext): Promise<PlatformFeature> {
  return { async close() {} };
}
