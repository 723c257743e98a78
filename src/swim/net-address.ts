/**
 * "ip:port" strings, the Address of the contract (types.ts), to and from socket terms.
 * IPv6 hosts are bracketed: "[::1]:7946". Hostnames are accepted but never resolved here; dgram
 * and net look them up themselves.
 */
import { isIP } from 'node:net';
import { SwimError } from './errors.ts';
import type { Address } from './types.ts';

export interface HostPort {
  host: string;
  port: number;
}

export function formatAddress(host: string, port: number): Address {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Parses "host:port" or "[v6]:port"; throws SwimError('BAD_ARGUMENT') on anything else. */
export function parseAddress(address: Address): HostPort {
  let host: string;
  let portText: string;
  if (address.startsWith('[')) {
    const close = address.indexOf(']');
    if (close < 0 || address[close + 1] !== ':') throw bad(address);
    host = address.slice(1, close);
    portText = address.slice(close + 2);
    if (isIP(host) !== 6) throw bad(address);
  } else {
    const colon = address.lastIndexOf(':');
    if (colon <= 0) throw bad(address);
    host = address.slice(0, colon);
    portText = address.slice(colon + 1);
    if (host.includes(':')) throw bad(address);
  }
  if (!/^[0-9]{1,5}$/.test(portText)) throw bad(address);
  const port = Number(portText);
  if (port < 1 || port > 65535) throw bad(address);
  return { host, port };
}

function bad(address: string): SwimError {
  return new SwimError('BAD_ARGUMENT', `expected "ip:port", got ${JSON.stringify(address.slice(0, 80))}`);
}
