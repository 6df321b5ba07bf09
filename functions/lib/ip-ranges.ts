import { isIP } from 'node:net';

/** A special-purpose address block: where a request must not be sent on a platform's behalf. */
export interface SpecialRange {
  /** Kind of address, as the IANA special-purpose registries name it (for example "private", "loopback"). */
  kind: string;
  /** The block in CIDR notation. */
  cidr: string;
}

interface Block extends SpecialRange {
  network: bigint;
  prefix: number;
  bits: 32 | 128;
}

/**
 * IPv4 blocks that are not globally reachable unicast, after the IANA IPv4
 * Special-Purpose Address Registry (RFC 6890 and its updates), plus multicast
 * (RFC 5771) and the reserved block 240.0.0.0/4 with the broadcast address.
 */
const IPV4_BLOCKS: [string, string][] = [
  ['0.0.0.0/8', 'unspecified ("this network")'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'shared address space (carrier-grade NAT)'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'IETF protocol assignment'],
  ['192.0.2.0/24', 'documentation'],
  ['192.88.99.0/24', 'deprecated 6to4 relay anycast'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
];

/**
 * IPv6 blocks inside global unicast (2000::/3) that are not globally
 * reachable, after the IANA IPv6 Special-Purpose Address Registry. Every
 * address outside 2000::/3 is treated as non-public as well (loopback,
 * link-local fe80::/10, unique local fc00::/7, multicast ff00::/8 and the
 * unassigned space), except the IPv4-embedding blocks handled in `nonPublicRange`.
 */
const IPV6_BLOCKS: [string, string][] = [
  ['2001::/23', 'IETF protocol assignment'],
  ['2001:db8::/32', 'documentation'],
  ['2002::/16', '6to4'],
  ['3fff::/20', 'documentation'],
];

const IPV6_OUTSIDE_GLOBAL: [string, string][] = [
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['64:ff9b:1::/48', 'local-use IPv4/IPv6 translation'],
  ['100::/64', 'discard-only'],
  ['fc00::/7', 'unique local'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'deprecated site-local'],
  ['ff00::/8', 'multicast'],
];

/** IPv6 blocks whose last 32 bits are an IPv4 address that the packet reaches. */
const IPV4_EMBEDDING = [parseBlock('::ffff:0:0/96', 'IPv4-mapped'), parseBlock('64:ff9b::/96', 'IPv4/IPv6 translation')];

const GLOBAL_UNICAST = parseBlock('2000::/3', 'global unicast');

function parseBlock(cidr: string, kind: string): Block {
  const [address, prefixText] = cidr.split('/');
  const bits = isIP(address) === 4 ? 32 : 128;
  const value = addressValue(address);
  if (value === undefined) throw new Error(`invalid block ${cidr}`);
  return { kind, cidr, network: value, prefix: Number(prefixText), bits };
}

const V4 = IPV4_BLOCKS.map(([cidr, kind]) => parseBlock(cidr, kind));
const V6 = [...IPV6_BLOCKS, ...IPV6_OUTSIDE_GLOBAL].map(([cidr, kind]) => parseBlock(cidr, kind));

function contains(block: Block, value: bigint): boolean {
  const shift = BigInt(block.bits - block.prefix);
  return value >> shift === block.network >> shift;
}

/** Parse an IPv4 or IPv6 address (no zone index) into its numeric value; undefined when it is neither. */
function addressValue(address: string): bigint | undefined {
  const family = isIP(address);
  if (family === 4) return ipv4Value(address);
  if (family !== 6) return undefined;
  let text = address.toLowerCase();
  // A trailing dotted IPv4 part (::ffff:10.0.0.1) becomes two hexadecimal groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4 = ipv4Value(dotted[1]);
    text = `${text.slice(0, dotted.index)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  return groups.reduce((value, group) => (value << 16n) | BigInt(parseInt(group, 16)), 0n);
}

function ipv4Value(address: string): bigint {
  return address.split('.').reduce((value, octet) => (value << 8n) | BigInt(Number(octet)), 0n);
}

function ipv4Text(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

/**
 * Return the special-purpose range that `address` belongs to, or undefined
 * when it is a public (globally reachable unicast) address. An IPv6 address
 * that embeds an IPv4 address (IPv4-mapped ::ffff:0:0/96, translation
 * 64:ff9b::/96) is judged by the IPv4 address it reaches. Throws a TypeError
 * when `address` is not an IP address.
 */
export function nonPublicRange(address: string): SpecialRange | undefined {
  const value = addressValue(address);
  if (value === undefined) throw new TypeError(`${JSON.stringify(address)} is not an IP address`);
  if (isIP(address) === 4) return describe(V4.find((block) => contains(block, value)));
  const embedding = IPV4_EMBEDDING.find((block) => contains(block, value));
  if (embedding) {
    const inner = nonPublicRange(ipv4Text(value & 0xffffffffn));
    return inner ? { kind: `${embedding.kind} ${inner.kind}`, cidr: `${embedding.cidr} embedding ${inner.cidr}` } : undefined;
  }
  const special = V6.find((block) => contains(block, value));
  if (special) return describe(special);
  if (!contains(GLOBAL_UNICAST, value)) return { kind: 'not global unicast', cidr: 'outside 2000::/3' };
  return undefined;
}

function describe(block: Block | undefined): SpecialRange | undefined {
  return block ? { kind: block.kind, cidr: block.cidr } : undefined;
}

/** Check whether `address` is a loopback address: 127.0.0.0/8, ::1, or an IPv4-mapped 127.0.0.0/8 address. */
export function isLoopbackAddress(address: string): boolean {
  const range = nonPublicRange(address);
  return range !== undefined && range.kind.endsWith('loopback');
}
