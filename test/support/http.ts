/** Polls `url` until it answers with `status`, or fails after `timeoutMs`. */
export async function waitForStatus(url: string, status: number, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = 0;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      last = response.status;
      await response.body?.cancel();
      if (last === status) return last;
    } catch {
      last = 0;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms (last: ${last || 'no answer'})`);
}
