fn main() {
    svc::svc_main()
}
