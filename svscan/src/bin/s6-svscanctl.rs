#![cfg_attr(not(test), no_main)]
common::entry!(svscan::svscanctl_main);
