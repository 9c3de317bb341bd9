/* empty css              */import{b as r}from"./common-D__3XlpQ.js";import{s as m}from"./session-page-l63q4l-d.js";import"./codemirror-DPxXkZNZ.js";m(r("app"),{embed:!0});
