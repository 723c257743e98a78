/**
 * `basefs mount` and `basefs unmount` (the mount issue replaces these placeholders).
 */
import { ComingCommand, MOUNT_RELEASE, usage } from './coming.ts';

export class MountCommand extends ComingCommand {
  static override paths = [['mount']];
  static override release = MOUNT_RELEASE;
  static override usage = usage('Mount (coming)', 'run a node and mount the filesystem over FUSE', 'mount myfs ~/myfs', MOUNT_RELEASE);
}

export class UnmountCommand extends ComingCommand {
  static override paths = [['unmount']];
  static override release = MOUNT_RELEASE;
  static override usage = usage('Mount (coming)', 'unmount a mounted filesystem', 'unmount myfs', MOUNT_RELEASE);
}
