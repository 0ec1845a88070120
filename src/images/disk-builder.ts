import { chmod, rm } from 'node:fs/promises';
import { AegisError, isAegisError } from '../errors.ts';
import { writeFixupScript } from './debugfs-script.ts';
import { digestHex } from './digest.ts';
import { findTool, runTool } from './host-tools.ts';
import { surveyTree, type TreeSurvey } from './tree-survey.ts';
import type { EntryMeta } from './unpack.ts';

const MIB = 1024 * 1024;
const INODE_BYTES = 256;
// Room for ext4's own metadata on top of content, and for rounding.
const HEADROOM_RATIO = 1.1;
const HEADROOM_BYTES = 16 * MIB;
const SPARE_INODES = 1024;
const SIZE_ATTEMPTS = 3;

export interface DiskBuildInput {
  readonly treeRoot: string;
  readonly meta: ReadonlyMap<string, EntryMeta>;
  readonly imageId: string;
  /** Where to write the disk; the caller renames it into place. */
  readonly diskPath: string;
  /** A scratch directory for the fixup script and xattr values. */
  readonly workDir: string;
}

/**
 * Builds a read-only ext4 root disk from an unpacked tree: mkfs.ext4 -d
 * copies the content into a sparse file sized from the tree, then
 * debugfs writes owners, modes, xattrs and devices from the layers.
 */
export async function buildRootDisk(input: DiskBuildInput): Promise<void> {
  const mkfs = await findTool('mkfs.ext4', 'e2fsprogs');
  const debugfs = await findTool('debugfs', 'e2fsprogs');
  const survey = await surveyTree(input.treeRoot);

  await formatWithContent(mkfs, input, survey);
  const script = await writeFixupScript(
    input.meta,
    survey.stats,
    input.workDir,
  );
  if (script.lines > 0)
    await runFixups(debugfs, script.scriptPath, input.diskPath);
  await chmod(input.diskPath, 0o444);
}

async function formatWithContent(
  mkfs: string,
  input: DiskBuildInput,
  survey: TreeSurvey,
): Promise<void> {
  let sizeBytes = estimateSizeBytes(survey);
  for (let attempt = 1; ; attempt++) {
    try {
      await runTool(mkfs, mkfsArgs(input, survey, sizeBytes));
      return;
    } catch (error) {
      await rm(input.diskPath, { force: true });
      // The estimate is generous; a miss means unusual metadata, so grow.
      if (!isAegisError(error) || attempt === SIZE_ATTEMPTS) throw error;
      sizeBytes *= 2;
    }
  }
}

export function estimateSizeBytes(survey: TreeSurvey): number {
  const contentBytes =
    survey.dataBlocks * 4096 + (survey.inodes + SPARE_INODES) * INODE_BYTES;
  const total = contentBytes * HEADROOM_RATIO + HEADROOM_BYTES;
  return Math.ceil(total / MIB) * MIB;
}

function mkfsArgs(
  input: DiskBuildInput,
  survey: TreeSurvey,
  sizeBytes: number,
): string[] {
  const uuid = uuidOf(input.imageId);
  return [
    '-q',
    '-F',
    '-t',
    'ext4',
    '-b',
    '4096',
    '-I',
    String(INODE_BYTES),
    '-N',
    String(survey.inodes + SPARE_INODES),
    '-m',
    '0',
    // A read-only disk needs no journal; a stable UUID and hash seed keep
    // the disk the same across rebuilds of the same image.
    '-O',
    '^has_journal',
    '-U',
    uuid,
    '-E',
    `hash_seed=${uuid},root_owner=0:0`,
    '-L',
    'aegis-image',
    '-d',
    input.treeRoot,
    input.diskPath,
    `${sizeBytes / 1024}k`,
  ];
}

function uuidOf(imageId: string): string {
  const hex = digestHex(imageId);
  return [
    hex.slice(0, 8),
    hex.slice(8, 12),
    `4${hex.slice(13, 16)}`,
    `8${hex.slice(17, 20)}`,
    hex.slice(20, 32),
  ].join('-');
}

// debugfs exits 0 even when a command fails; its errors are the lines on
// stderr after the version banner.
async function runFixups(
  debugfs: string,
  scriptPath: string,
  diskPath: string,
): Promise<void> {
  const { stderr } = await runTool(debugfs, ['-w', '-f', scriptPath, diskPath]);
  const errors = stderr
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('debugfs '));
  if (errors.length === 0) return;
  throw new AegisError(
    'DISK_BUILD_FAILED',
    `debugfs could not set owners and modes in ${diskPath}: ` +
      errors.slice(0, 3).join(' | '),
  );
}
