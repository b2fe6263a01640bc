#![cfg_attr(not(test), no_main)]
common::entry!(svc::svc_main);
