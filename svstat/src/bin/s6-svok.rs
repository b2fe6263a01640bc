#![cfg_attr(not(test), no_main)]
common::entry!(svstat::svok_main);
