import { mkdir, stat } from 'node:fs/promises';

/**
 * The process umask for `npm start`: everything it and its emulators create (LevelDB tables,
 * SQLite queues, S3 object files) is readable by its owner only. The emulators check no
 * credentials, so their files are the volumes.
 */
export const PRIVATE_UMASK = 0o077;

/**
 * Makes `dir` (and missing parents) with mode 0700. Returns a warning when it already existed
 * and other users may read or enter it; it is left as it is, since it may be shared on purpose.
 */
export async function preparePrivateDataDir(dir: string): Promise<string | undefined> {
  const made = await mkdir(dir, { recursive: true, mode: 0o700 });
  const { mode } = await stat(dir);
  if (made !== undefined || (mode & 0o077) === 0) return undefined;
  return (
    `sleds: warning: data directory ${dir} is mode ${(mode & 0o777).toString(8).padStart(3, '0')}: ` +
    `other users may read its volumes. Run \`chmod -R go= ${dir}\` to make it private.`
  );
}
