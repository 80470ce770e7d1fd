#!/usr/bin/env node
/**
 * Patches the local emulators where they answer differently from AWS in a way Sleds relies on.
 * Runs from `postinstall`; plain Node (20 or later), no dependencies.
 *
 * fauxqs: S3 answers CopyObject with the checksum of the new object (ChecksumType and
 * Checksum<Algorithm> in <CopyObjectResult>). fauxqs 2.4.1 keeps the source's stored checksum
 * on the copy but leaves it out of the answer, so a copy job would have to HEAD every chunk it
 * copied. The patch adds the stored checksum to the answer, as S3 does.
 *
 * Each patch knows the exact version and text it applies to. It is idempotent (a marker says
 * it is applied); on any other version, or text it does not recognise, it says so and leaves
 * the package alone (Sleds then falls back to a HeadObject per copied chunk). It never fails
 * the install.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const PATCHES = [
  {
    name: 'fauxqs: CopyObject answers with the checksum of the new object',
    packageName: 'fauxqs',
    version: '2.4.1',
    file: 'dist/s3/actions/putObject.js',
    marker: '/* sleds-patch: copy-object-checksum */',
    find: [
      '            `  <LastModified>${result.CopyObjectResult.LastModified.toISOString()}</LastModified>`,',
      '            `</CopyObjectResult>`,',
    ].join('\n'),
    replace: [
      '            `  <LastModified>${result.CopyObjectResult.LastModified.toISOString()}</LastModified>`,',
      '            /* sleds-patch: copy-object-checksum */',
      '            ...(obj.checksumAlgorithm && obj.checksumValue',
      '                ? [',
      '                    ...(obj.checksumType ? [`  <ChecksumType>${obj.checksumType}</ChecksumType>`] : []),',
      '                    `  <Checksum${obj.checksumAlgorithm}>${obj.checksumValue}</Checksum${obj.checksumAlgorithm}>`,',
      '                ]',
      '                : []),',
      '            `</CopyObjectResult>`,',
    ].join('\n'),
  },
];

function apply(patch) {
  const packageDir = join(root, 'node_modules', patch.packageName);
  const packageJson = join(packageDir, 'package.json');
  if (!existsSync(packageJson)) return `${patch.name}: ${patch.packageName} is not installed; nothing to patch`;
  const { version } = JSON.parse(readFileSync(packageJson, 'utf8'));
  if (version !== patch.version) {
    return `${patch.name}: ${patch.packageName} is ${version}, the patch knows ${patch.version}; left alone (copy jobs fall back to a HeadObject per chunk)`;
  }
  const file = join(packageDir, patch.file);
  const text = readFileSync(file, 'utf8');
  if (text.includes(patch.marker)) return `${patch.name}: already applied`;
  const at = text.indexOf(patch.find);
  if (at === -1 || text.indexOf(patch.find, at + 1) !== -1) {
    return `${patch.name}: ${patch.file} of ${patch.packageName} ${version} does not read as expected; left alone`;
  }
  const temporary = `${file}.sleds-patch`;
  writeFileSync(temporary, text.slice(0, at) + patch.replace + text.slice(at + patch.find.length));
  renameSync(temporary, file);
  return `${patch.name}: applied to ${patch.packageName} ${version}`;
}

for (const patch of PATCHES) {
  let outcome;
  try {
    outcome = apply(patch);
  } catch (error) {
    outcome = `${patch.name}: not applied (${error instanceof Error ? error.message : String(error)})`;
  }
  console.log(`patch-emulators: ${outcome}`);
}
