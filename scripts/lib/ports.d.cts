/** A port that nothing listened on a moment ago (the kernel's pick). */
export function freePort(): Promise<number>;
/** True when nothing listens on 127.0.0.1:port (binding it succeeds). */
export function portFree(port: number): Promise<boolean>;
