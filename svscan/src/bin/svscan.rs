fn main() {
    svscan::svscan_main()
}
