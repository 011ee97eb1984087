'use strict';

module.exports = {
  config: require('./config'),
  ...require('./proc'),
  ...require('./services'),
  ...require('./nginx'),
  ...require('./http'),
  ...require('./jwt'),
  ...require('./env'),
  // browser helpers are loaded lazily (they require playwright-core)
  get browser() { return require('./browser'); },
};
