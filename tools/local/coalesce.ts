// Runs an action at most once per interval: a call during the interval is remembered and made when
// the interval ends (leading and trailing), so a burst of requests costs at most two runs.
export function coalesce(action: () => Promise<void>, intervalMs: number): { request: () => Promise<void>; cancel: () => void } {
  let last = 0;
  let timer: NodeJS.Timeout | undefined;
  let cancelled = false;
  const run = () => {
    last = Date.now();
    timer = undefined;
    if (!cancelled) void action().catch(() => undefined);
  };
  return {
    async request() {
      if (cancelled || timer) return;
      const wait = last + intervalMs - Date.now();
      if (wait <= 0) run();
      else timer = setTimeout(run, wait);
    },
    cancel() {
      cancelled = true;
      if (timer) clearTimeout(timer);
    },
  };
}
