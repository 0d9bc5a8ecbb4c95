'use strict';
// The same server and Consul registration as server.js, but with no signal
// handler at all: SIGTERM gets node's (the kernel's) default action, which
// kills node, or does nothing when node is PID 1 of its PID namespace.
require('./app').start();
