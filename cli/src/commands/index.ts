/**
 * Every command module, registered in help order. A new feature adds its module here (the
 * issue-12 commands `secret`, `domains`, `switches`, `privacy`, `config` are still to come).
 */
import "./auth";
import "./apps";
import "./release";
import "./gray";
import "./misc";
import "./completion";
