#![cfg_attr(not(test), no_main)]
common::entry!(svc::svlisten1_main);
