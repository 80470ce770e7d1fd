import { expect, it } from 'vitest';
import { CLIENTS, describeWithClients, memoryDevice, run, useNbdServer } from '../support/nbd-clients.js';

const MiB = 1024 * 1024;

describeWithClients('NBD server under fio (nbd engine, verify)', [CLIENTS.fio], () => {
  const device = memoryDevice(64 * MiB);
  const { uri } = useNbdServer(() => [{ name: 'fio', device }]);

  it('random 4K-64K writes from 4 connections at iodepth 16 all verify (crc32c)', async () => {
    const jobs = 4;
    const { stdout } = await run(
      'fio',
      [
        '--name=nbd-verify',
        '--ioengine=nbd',
        `--uri=${uri('fio')}`,
        '--rw=randwrite',
        '--bsrange=4k-64k',
        `--numjobs=${jobs}`,
        '--iodepth=16',
        '--size=12M',
        '--offset_increment=16M', // each job (connection) owns its region, so verification is exact
        '--verify=crc32c',
        '--verify_fatal=1',
        '--verify_state_save=0', // no state files left in the working directory on failure
        '--do_verify=1',
        '--output-format=json',
      ],
      9_000,
    );
    const report = JSON.parse(stdout.slice(stdout.indexOf('{')));
    expect(report.jobs).toHaveLength(jobs);
    for (const job of report.jobs) {
      expect(job.error).toBe(0);
      expect(job.write.io_bytes).toBe(12 * MiB);
      // The verify pass read back everything written.
      expect(job.read.io_bytes).toBe(12 * MiB);
    }
    expect(device.counters.writes).toBeGreaterThanOrEqual(jobs * ((12 * MiB) / (64 * 1024)));
    // fio writes its verify headers into every block: each region must hold data now.
    for (let j = 0; j < jobs; j++) expect(device.readSync(j * 16 * MiB, 4096).some((b) => b !== 0)).toBe(true);
  });
});
