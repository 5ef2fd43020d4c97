// --metrics HOST:PORT: where /metrics is served, checked with the other options before anything starts.
import { UsageError } from '../errors.js';
import { parseTcpAddress, type TcpAddress } from '../socket/spec.js';

/** The address of --metrics, or null when it is not given; anything else than HOST:PORT is a usage error. */
export function resolveMetricsAddress(value: string | undefined): TcpAddress | null {
  if (value === undefined) return null;
  let address: TcpAddress | null = null;
  let cause: unknown;
  try {
    address = parseTcpAddress(value, '--metrics');
  } catch (error) {
    // Its sentences speak of socket files; a host name or a bad port is said here for --metrics.
    cause = error;
  }
  if (address === null || address.port === 0) {
    throw new UsageError(
      `--metrics '${value}' is not an address and port to serve /metrics on: give one like 127.0.0.1:9101 ` +
        '(or [::1]:9101; :9101 for every interface), a numeric address, a port from 1 to 65535.',
      { cause },
    );
  }
  return address;
}
