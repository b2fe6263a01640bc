fn main() {
    supervise::supervise_main()
}
