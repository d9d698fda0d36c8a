/**
 * Waits until `check` holds (a check that throws has not held yet), polling every `every` ms;
 * after `ms` it throws, naming `what` it waited for.
 */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, { ms = 3000, every = 20 }: { ms?: number; every?: number } = {}): Promise<void> {
  const deadline = Date.now() + ms;
  const holds = async () => {
    try {
      return await check();
    } catch {
      return false;
    }
  };
  while (!(await holds())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
