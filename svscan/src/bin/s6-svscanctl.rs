fn main() {
    svscan::svscanctl_main()
}
