#![cfg_attr(not(test), no_main)]
common::entry!(svc::svwait_main);
