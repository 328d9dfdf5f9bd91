/** Resident memory of a process in bytes (Linux /proc), for tests that show memory stays bounded. */
export async function rssOf(pid: number): Promise<number> {
  const status = await Bun.file(`/proc/${pid}/status`).text();
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}
