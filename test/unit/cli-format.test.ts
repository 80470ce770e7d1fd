import { describe, expect, it } from 'vitest';
import { SledsError, VolumeNotFoundError } from '../../lib/errors.js';
import {
  UsageError,
  formatCount,
  formatErrorLine,
  formatJson,
  formatTable,
  formatTimestamp,
  formatVolumeDetails,
  formatVolumeTable,
  parseCountArgument,
  parseEndpointArgument,
  parseSizeArgument,
  parseVolumeIdArgument,
} from '../../lib/cli/format.js';
import { GIB, KIB, MIB } from '../../lib/units/sizes.js';
import type { Volume } from '../../lib/volumes/volume.js';

const volume = (overrides: Partial<Volume> = {}): Volume => ({
  volumeId: 'vol-0123456789abcdef0',
  sizeBytes: GIB,
  chunkSizeBytes: MIB,
  partitionChunks: 16,
  partitionCount: 64,
  state: 'available',
  createdAt: '2025-06-01T12:34:56.789Z',
  updatedAt: '2025-06-02T08:00:00.000Z',
  ...overrides,
});

describe('parseSizeArgument', () => {
  it('reads binary units', () => {
    expect(parseSizeArgument('1GiB', '--size')).toBe(GIB);
    expect(parseSizeArgument('512MiB', '--size')).toBe(512 * MIB);
    expect(parseSizeArgument('64k', '--chunk-size')).toBe(64 * KIB);
    expect(parseSizeArgument('4096', '--size')).toBe(4096);
  });

  it('refuses what is not a size, naming the flag and the value', () => {
    expect(() => parseSizeArgument('12XB', '--size')).toThrow(UsageError);
    expect(() => parseSizeArgument('12XB', '--size')).toThrow(/invalid --size: "12XB" is not a size/);
    expect(() => parseSizeArgument('1GB', '--chunk-size')).toThrow(/invalid --chunk-size/);
  });

  it('refuses zero', () => {
    expect(() => parseSizeArgument('0', '--size')).toThrow(/more than 0 bytes/);
  });
});

describe('parseCountArgument', () => {
  it('reads whole numbers', () => {
    expect(parseCountArgument('16', '--partition-chunks')).toBe(16);
    expect(parseCountArgument(' 3 ', '--limit')).toBe(3);
  });

  it.each(['0', '-1', '1.5', 'ten', '', '1e3'])('refuses %j', (text) => {
    expect(() => parseCountArgument(text, '--limit')).toThrow(UsageError);
  });
});

describe('parseVolumeIdArgument', () => {
  it('accepts a volume id', () => {
    expect(parseVolumeIdArgument('vol-0123456789abcdef0')).toBe('vol-0123456789abcdef0');
  });

  it('refuses anything else with an example', () => {
    expect(() => parseVolumeIdArgument('vol-XYZ')).toThrow(/"vol-XYZ" is not a volume id; ids look like vol-/);
  });
});

describe('parseEndpointArgument', () => {
  it('keeps http(s) URLs, including a stage path, without trailing slashes', () => {
    expect(parseEndpointArgument('http://127.0.0.1:4510/')).toBe('http://127.0.0.1:4510');
    expect(parseEndpointArgument('https://abc.execute-api.us-east-1.amazonaws.com/prod/')).toBe(
      'https://abc.execute-api.us-east-1.amazonaws.com/prod',
    );
  });

  it.each(['localhost:4510', 'ftp://host', 'not a url', 'http://host/?x=1'])('refuses %j', (text) => {
    expect(() => parseEndpointArgument(text)).toThrow(/invalid --endpoint/);
  });
});

describe('formatTable', () => {
  it('pads columns to the widest cell, right-aligns numbers and leaves no trailing spaces', () => {
    const table = formatTable(
      [{ header: 'ID' }, { header: 'SIZE', align: 'right' }, { header: 'NOTE' }],
      [
        ['a', '1 GiB', ''],
        ['longer', '512 MiB', 'x'],
      ],
    );
    expect(table.split('\n')).toEqual(['ID         SIZE  NOTE', 'a         1 GiB', 'longer  512 MiB  x']);
  });

  it('prints only the header for no rows', () => {
    expect(formatTable([{ header: 'A' }, { header: 'B' }], [])).toBe('A  B');
  });
});

describe('volume output', () => {
  it('lists volumes in an aligned table with human sizes', () => {
    const lines = formatVolumeTable([
      volume(),
      volume({ volumeId: 'vol-00000000000000001', name: 'scratch', sizeBytes: 512 * MIB, partitionCount: 32 }),
    ]).split('\n');
    expect(lines[0]).toMatch(/^VOLUME ID\s+NAME\s+SIZE\s+CHUNK\s+PARTITIONS\s+STATE\s+CREATED$/);
    expect(lines[1]).toMatch(/^vol-0123456789abcdef0\s+-\s+1 GiB\s+1 MiB\s+64\s+available\s+2025-06-01 12:34:56Z$/);
    expect(lines[2]).toMatch(/^vol-00000000000000001\s+scratch\s+512 MiB\s+1 MiB\s+32\s+available/);
    // Aligned: every column starts at the same offset on every line.
    const stateAt = lines.map((line) => line.indexOf(line.includes('STATE') ? 'STATE' : 'available'));
    expect(new Set(stateAt).size).toBe(1);
  });

  it('shows one volume with sizes in binary units', () => {
    const text = formatVolumeDetails(volume({ name: 'db' }));
    expect(text.split('\n')).toEqual([
      'Volume ID   vol-0123456789abcdef0',
      'Name        db',
      'Size        1 GiB (1073741824 bytes)',
      'Chunk size  1 MiB',
      'Partitions  64 of 16 chunks (16 MiB each)',
      'State       available',
      'Created     2025-06-01 12:34:56Z',
      'Updated     2025-06-02 08:00:00Z',
    ]);
  });

  it('formats timestamps to the second and passes through what is not one', () => {
    expect(formatTimestamp('2025-06-01T12:34:56.789Z')).toBe('2025-06-01 12:34:56Z');
    expect(formatTimestamp('soon')).toBe('soon');
  });

  it('counts with plurals', () => {
    expect(formatCount(1, 'volume')).toBe('1 volume');
    expect(formatCount(0, 'object')).toBe('0 objects');
  });

  it('prints JSON indented with a final newline', () => {
    expect(formatJson({ a: 1 })).toBe('{\n  "a": 1\n}\n');
  });
});

describe('formatErrorLine', () => {
  it('prints the message and the code', () => {
    expect(formatErrorLine(new VolumeNotFoundError('vol-0123456789abcdef0'))).toBe(
      'sleds: Volume vol-0123456789abcdef0 does not exist. (VolumeNotFound)',
    );
    expect(formatErrorLine(new SledsError('Throttled', 429, 'Slow down.'))).toBe('sleds: Slow down. (Throttled)');
  });

  it('marks anything unexpected as an internal error', () => {
    expect(formatErrorLine(new TypeError('boom'))).toBe('sleds: boom (InternalError)');
    expect(formatErrorLine('text')).toBe('sleds: text (InternalError)');
  });
});
