'use strict';
// The service with a SIGTERM handler: deregister from Consul, log, close the
// HTTP server, exit 0. `npm start` runs this file (package.json).
const app = require('./app').start();

process.on('SIGTERM', () => app.shutdown('SIGTERM'));
