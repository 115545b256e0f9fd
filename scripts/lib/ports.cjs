// Ports on 127.0.0.1, the one implementation for the scripts (ESM imports it) and the tests (test/support/ports.ts
// requires it, in plain Node and in VS Code's extension host alike). CommonJS, because the compiled tests are
// CommonJS and require() of an ES module is not there in every Node and extension host this runs in.
'use strict';
const net = require('node:net');

/** A port that nothing listened on a moment ago (the kernel's pick). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** True when nothing listens on 127.0.0.1:port (binding it succeeds). */
function portFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

module.exports = { freePort, portFree };
