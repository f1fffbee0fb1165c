// Placeholder: the program of issue 10 is being written.
package main

func main() {}
