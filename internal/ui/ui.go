// Package ui renders what the library packages report for people and
// for programs: a text line or a JSON object per record. It decides
// nothing about a run; it only prints what it is given.
package ui
