import { freePort } from './ports.ts';
import { findBinary, startProcess } from './processes.ts';

export function findPushgateway(): string | undefined {
  return findBinary('prometheus-pushgateway') ?? findBinary('pushgateway');
}

/**
 * Spawns a Pushgateway on a free port. Persistence is off unless a file is given: Debian's build
 * defaults to /var/lib/prometheus/pushgateway.data, which would replay other runs' groups.
 */
export async function startPushgateway(
  binary: string,
  options: { persistenceFile?: string } = {},
): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = await startProcess({
    name: 'prometheus-pushgateway',
    command: binary,
    args: [`--web.listen-address=127.0.0.1:${port}`, `--persistence.file=${options.persistenceFile ?? ''}`],
    ready: async () => (await fetch(`${url}/-/ready`)).ok,
  });
  return { url, stop: proc.stop };
}
