// A listening unix socket with the owner, group, mode (or ACL) asked for, made the way sockvisor
// makes its own (socket/create.ts bindUnixSocket: bound 0000 by the addon, then the planned steps):
// for tests that need a real socket file, or that check that very sequence.
import { dirname } from 'node:path';
import { closeFd, openFolder, type CreatedUnixSocket, type NativeAclEntry } from '../../src/native.js';
import { fromNativeAcl, modeOfAcl } from '../../src/socket/acl.js';
import { bindUnixSocket } from '../../src/socket/create.js';

export interface TestSocketRequest {
  path: string;
  /** -1: the test process's own */
  uid: number;
  /** -1: the test process's own */
  gid: number;
  /** ignored with acl: the ACL gives the mode */
  mode: number;
  backlog: number;
  acl?: NativeAclEntry[];
  /** keep the O_PATH descriptor open (the caller closes it); else it is closed here */
  keepPathFd?: boolean;
}

/** Binds the socket through its folder's descriptor and gives it its permissions; throws the addon's NativeError. */
export function makeUnixSocket(request: TestSocketRequest): CreatedUnixSocket {
  const { path, acl } = request;
  const uid = request.uid >= 0 ? request.uid : process.geteuid!();
  const gid = request.gid >= 0 ? request.gid : process.getegid!();
  const mode = acl ? modeOfAcl(fromNativeAcl(acl)) : request.mode;
  const folder = openFolder(null, dirname(path));
  try {
    const created = bindUnixSocket(path, folder, { mode, uid, gid, acl: acl ?? null }, request.backlog);
    if (!request.keepPathFd) closeFd(created.pathFd);
    return created;
  } finally {
    closeFd(folder);
  }
}
