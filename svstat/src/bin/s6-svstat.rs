#![cfg_attr(not(test), no_main)]
common::entry!(svstat::svstat_main);
