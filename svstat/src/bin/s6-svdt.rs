#![cfg_attr(not(test), no_main)]
common::entry!(svstat::svdt_main);
